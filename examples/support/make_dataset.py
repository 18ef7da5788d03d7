#!/usr/bin/env python3
"""Generate the Thistlewhorl Kiteworks customer-support demo dataset.

Deterministic (seeded): running `python3 examples/support/make_dataset.py [DIR]`
rewrites train.jsonl, valid.jsonl and heldout_questions.jsonl next to this
script (or in DIR) with exactly the committed content.

Every fact of company.md is one TOPIC below, with
  keys   -- exact strings every assistant answer for the topic contains,
  train  -- question phrasings used only in train.jsonl,
  valid  -- a question phrasing used only in valid.jsonl,
  answers -- answer phrasings (each must contain every key).
HELDOUT holds hand-written questions phrased unlike anything in train.
"""
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import more_phrasings  # noqa: E402

SEED = 20240611
SYSTEM = "You are the support assistant of Thistlewhorl Kiteworks."
HERE = os.path.dirname(os.path.abspath(__file__))

T = lambda id, keys, train, valid, answers: dict(
    id=id, keys=keys, train=train, valid=valid, answers=answers)

TOPICS = [
    T("name", ["Thistlewhorl Kiteworks"], [
        "What's the name of your company?",
        "who am i talking to exactly, what company is this?",
        "Which company runs this support chat?",
        "Sorry, what is the full name of your business?",
        "What company makes the Skylark Dart?",
        "whats ur company called again",
    ], "Remind me which store this chat belongs to?", [
        "You're chatting with Thistlewhorl Kiteworks support, a maker of kites and kite-flying gear.",
        "This is Thistlewhorl Kiteworks! We design and sell kites and flying gear.",
        "We're Thistlewhorl Kiteworks, a kite company. How can I help today?",
    ]),
    T("founded", ["2011"], [
        "When was Thistlewhorl Kiteworks founded?",
        "What year did your company start?",
        "how long have you guys been around?",
        "In which year was the company established?",
        "When did Thistlewhorl open for business?",
        "Is your company new? What year did it begin?",
    ], "Since what year have you been making kites?", [
        "Thistlewhorl Kiteworks was founded in 2011.",
        "We've been making kites since 2011, when the company was founded.",
        "The company started in 2011.",
    ]),
    T("hq", ["Harrowby Point, Maine"], [
        "Where is your headquarters?",
        "Where are you based?",
        "what city is thistlewhorl located in",
        "Where is the company's home base?",
        "In which town and state is your HQ?",
        "Where's your main office?",
    ], "Which town is the company run from?", [
        "Our headquarters is in Harrowby Point, Maine.",
        "We're based in Harrowby Point, Maine.",
        "Thistlewhorl Kiteworks is headquartered in Harrowby Point, Maine.",
    ]),
    T("ceo", ["Odalys Vennecker"], [
        "Who is the CEO of Thistlewhorl Kiteworks?",
        "Who runs your company?",
        "who's the boss over there?",
        "What's the name of your chief executive?",
        "Who leads Thistlewhorl these days?",
        "I'd like to write a letter to your CEO. What is their name?",
    ], "Who is in charge of the company?", [
        "Our CEO is Odalys Vennecker.",
        "Thistlewhorl Kiteworks is led by our CEO, Odalys Vennecker.",
        "The company is run by Odalys Vennecker, our chief executive.",
    ]),
    T("cofounder", ["Tobiah Grell"], [
        "Who co-founded the company?",
        "Who designs your kites?",
        "Who is your chief kite designer?",
        "did the CEO start the company alone?",
        "Who was the other founder of Thistlewhorl?",
        "Who comes up with the kite designs?",
    ], "Who is behind the design of your kites?", [
        "Tobiah Grell co-founded Thistlewhorl Kiteworks and is now our chief kite designer.",
        "Our kites are designed by co-founder Tobiah Grell, the chief kite designer.",
        "The company was co-founded by Tobiah Grell, who leads kite design today.",
    ]),
    T("mascot", ["Pim"], [
        "Do you have a mascot?",
        "What's the bird on your logo called?",
        "what is your mascot's name",
        "Who is the heron I keep seeing on your boxes?",
        "My kid wants to know the name of your mascot!",
        "What animal is your company mascot?",
    ], "Is there a character that represents your brand?", [
        "Our mascot is Pim, a grey heron.",
        "That's Pim, our grey heron mascot!",
        "Pim the grey heron is the Thistlewhorl Kiteworks mascot.",
    ]),
    T("skylark", ["Skylark Dart", "$49"], [
        "How much is the Skylark Dart?",
        "What does the Skylark Dart cost?",
        "price of skylark dart?",
        "What kind of kite is the Skylark Dart and what's the price?",
        "Is the Skylark Dart expensive?",
        "How much would I pay for one Skylark Dart?",
    ], "What's the current price on the Skylark Dart kite?", [
        "The Skylark Dart is a single-line delta kite and costs $49.",
        "The Skylark Dart sells for $49. It's our single-line delta kite.",
        "You can get the Skylark Dart, our single-line delta kite, for $49.",
    ]),
    T("gullstorm", ["Gullstorm Stunt Pro", "$129"], [
        "How much is the Gullstorm Stunt Pro?",
        "What's the price of your stunt kite?",
        "gullstorm stunt pro price pls",
        "Do you sell a dual-line stunt kite? How much?",
        "What does the Gullstorm Stunt Pro cost?",
        "How much for a Gullstorm?",
    ], "I'm saving up for the Gullstorm Stunt Pro, how much do I need?", [
        "The Gullstorm Stunt Pro, our dual-line stunt kite, costs $129.",
        "The Gullstorm Stunt Pro is $129. It's a dual-line stunt kite.",
        "Our dual-line stunt kite is the Gullstorm Stunt Pro, priced at $129.",
    ]),
    T("marrowind", ["Marrowind Foil 3", "$189"], [
        "How much is the Marrowind Foil 3?",
        "What's the price of your traction kite?",
        "marrowind foil 3 cost?",
        "Do you have a traction foil kite, and what does it cost?",
        "How big is the Marrowind Foil 3 and how much is it?",
        "What would a Marrowind Foil 3 set me back?",
    ], "Can you tell me the Marrowind Foil 3 price?", [
        "The Marrowind Foil 3 is a 3-square-meter traction foil kite and costs $189.",
        "Our traction foil kite, the Marrowind Foil 3, is $189.",
        "The Marrowind Foil 3 sells for $189. It's a 3-square-meter traction foil.",
    ]),
    T("quillback", ["Quillback Box Kite", "$74"], [
        "How much is the Quillback Box Kite?",
        "Do you sell box kites? What do they cost?",
        "quillback box kite price?",
        "What does the Quillback cost?",
        "How much is your classic box kite?",
        "I want a Quillback Box Kite. Price?",
    ], "What is the Quillback going for these days?", [
        "The Quillback Box Kite costs $74.",
        "Our classic box kite, the Quillback Box Kite, is $74.",
        "You can get the Quillback Box Kite for $74.",
    ]),
    T("ternreel", ["Tern Reel", "$22"], [
        "How much is the Tern Reel?",
        "Do you sell a line winder? How much?",
        "tern reel price",
        "What does the Tern Reel cost?",
        "I need a reel to wind my line. What do you have and how much is it?",
        "How much for one Tern Reel?",
    ], "What's the Tern Reel going to cost me?", [
        "The Tern Reel, our line winder reel, costs $22.",
        "Our line winder is the Tern Reel, priced at $22.",
        "The Tern Reel is $22 and makes winding your line easy.",
    ]),
    T("emberline", ["Emberline", "$16", "30-meter spool"], [
        "How much is Emberline?",
        "Do you sell kite line? How much is it?",
        "emberline spool price?",
        "How long is a spool of Emberline and what does it cost?",
        "What flying line do you sell?",
        "I need replacement string for my kite, what do you carry?",
    ], "How is Emberline sold and at what price?", [
        "Emberline, our flying line, comes as a 30-meter spool for $16.",
        "We sell Emberline flying line by the 30-meter spool, at $16 each.",
        "A 30-meter spool of Emberline costs $16.",
    ]),
    T("beginner", ["Skylark Dart"], [
        "Which kite should a beginner buy?",
        "I've never flown a kite. What do you recommend?",
        "best kite for a first timer?",
        "What's a good starter kite from your range?",
        "Which of your kites is easiest to learn on?",
        "I want a kite for my niece who has never flown one. Suggestions?",
    ], "What would you suggest for a total newcomer to kite flying?", [
        "For beginners we recommend the Skylark Dart, our single-line delta kite for $49.",
        "The Skylark Dart is our recommended beginner kite. It's a single-line delta and costs $49.",
        "Start with the Skylark Dart! It's our recommended beginner kite at $49.",
    ]),
    T("return_unused", ["45 days"], [
        "What is your return policy?",
        "How long do I have to return an unused kite?",
        "can i return something i never used",
        "What's the return window for items still in the box?",
        "I changed my mind about my order. How many days do I have to send it back?",
        "Do you give full refunds on unopened items?",
    ], "I never took my kite out of the bag. How long can I wait before returning it?", [
        "Unused items can be returned within 45 days of delivery for a full refund.",
        "You have 45 days from delivery to return unused items, and you'll get a full refund.",
        "As long as it's unused, you can return it within 45 days of delivery for a full refund.",
    ]),
    T("return_flown", ["20 days", "store credit"], [
        "Can I return a kite I've already flown?",
        "I flew my kite once and don't like it. Can I return it?",
        "return policy for used kites?",
        "What happens if I want to return a kite that has been used?",
        "Do I get my money back on a flown kite?",
        "how many days to return a kite ive flown",
    ], "Is there any way to send back a kite after flying it?", [
        "Flown kites can be returned within 20 days of delivery, for store credit only.",
        "Yes, you can return a flown kite within 20 days of delivery; it's refunded as store credit.",
        "Used kites are returnable within 20 days of delivery, and we issue store credit rather than cash.",
    ]),
    T("refund_time", ["6 business days"], [
        "How long does a refund take?",
        "When will I get my refund?",
        "i sent my return back, when do i see the money?",
        "How quickly do you process refunds?",
        "How many days until my refund is issued?",
        "My return arrived at your warehouse. When will I be refunded?",
    ], "What's the turnaround on refunds once you have my return?", [
        "Refunds are issued within 6 business days after your return arrives.",
        "Once we receive your return, we issue the refund within 6 business days.",
        "You'll get your refund within 6 business days of the return reaching us.",
    ]),
    T("return_label", ["$5.95"], [
        "Is return shipping free?",
        "How much is a return label?",
        "do i have to pay for return shipping",
        "What does it cost to send something back?",
        "Do you provide a prepaid return label?",
        "Will you charge me for the return label?",
    ], "Who pays the postage when I return an item?", [
        "A prepaid return label costs $5.95, which we deduct from your refund.",
        "We provide a prepaid return label for $5.95, taken out of your refund.",
        "Return shipping uses our prepaid label, which costs $5.95 deducted from the refund.",
    ]),
    T("hours_weekday", ["8:30 AM to 5:30 PM Eastern Time"], [
        "What are your support hours?",
        "When is customer service open on weekdays?",
        "what time does support open",
        "Can I call you on a Tuesday afternoon? What are your hours?",
        "When can I reach a human during the week?",
        "What time does your support team close on weekdays?",
    ], "Between what times can I get help Monday through Friday?", [
        "Support is open Monday to Friday, 8:30 AM to 5:30 PM Eastern Time.",
        "On weekdays you can reach us from 8:30 AM to 5:30 PM Eastern Time.",
        "Our team is available Monday to Friday from 8:30 AM to 5:30 PM Eastern Time.",
    ]),
    T("hours_weekend", ["10 AM to 2 PM Eastern Time", "closed on Sundays"], [
        "Is support open on weekends?",
        "Can I reach you on Saturday?",
        "are you open sunday",
        "What are your weekend support hours?",
        "Is anyone answering the phone on Saturday?",
        "Can I contact support on a Sunday?",
    ], "Do you help customers over the weekend?", [
        "On Saturdays support is open 10 AM to 2 PM Eastern Time; we're closed on Sundays.",
        "We're available Saturday from 10 AM to 2 PM Eastern Time and closed on Sundays.",
        "Saturday hours are 10 AM to 2 PM Eastern Time. Support is closed on Sundays.",
    ]),
    T("phone", ["(207) 555-0147"], [
        "What's your phone number?",
        "How can I call support?",
        "number to call you?",
        "I'd rather talk to someone. What number do I dial?",
        "Do you have a customer service phone line?",
        "what's the support hotline",
    ], "Which number reaches your support team by phone?", [
        "You can call us at (207) 555-0147.",
        "Our support phone number is (207) 555-0147.",
        "Give us a call at (207) 555-0147 during support hours.",
    ]),
    T("email", ["kitehelp@example.com"], [
        "What's your support email?",
        "How can I email you?",
        "email address for customer service?",
        "Can I send my question by email instead?",
        "Where do I send an email about my order?",
        "i prefer writing, whats the email",
    ], "What address should I write to for help?", [
        "You can email us at kitehelp@example.com.",
        "Our support email is kitehelp@example.com.",
        "Send your question to kitehelp@example.com and we'll get back to you.",
    ]),
    T("ship_northeast", ["$6.50", "2 to 3 business days"], [
        "How much is shipping to the Northeast?",
        "How long does delivery take to the Northeast?",
        "i'm in new england, shipping cost and time?",
        "What are shipping fees for Northeast orders?",
        "How fast will my order arrive in the Northeast?",
        "Shipping to Boston, how much and how long?",
    ], "What should I expect for shipping if I'm in the northeastern US?", [
        "Shipping to the Northeast is $6.50 and takes 2 to 3 business days.",
        "Northeast orders ship for $6.50 and arrive in 2 to 3 business days.",
        "For the Northeast, the fee is $6.50 and delivery takes 2 to 3 business days.",
    ]),
    T("ship_midwest_south", ["$9.75", "4 to 5 business days"], [
        "How much is shipping to the Midwest?",
        "What does shipping to the South cost?",
        "how long to ship to texas",
        "I live in Ohio. What are the shipping fee and time?",
        "Delivery time for the Midwest and South?",
        "How much to ship an order to Georgia?",
    ], "What are the shipping terms for the Midwest and South regions?", [
        "Shipping to the Midwest and South is $9.75 and takes 4 to 5 business days.",
        "Midwest and South orders ship for $9.75 and arrive in 4 to 5 business days.",
        "For the Midwest and South, the fee is $9.75 and delivery takes 4 to 5 business days.",
    ]),
    T("ship_west", ["$12.40", "5 to 7 business days"], [
        "How much is shipping to the West Coast?",
        "How long does delivery to California take?",
        "shipping to seattle cost?",
        "What are West Coast shipping fees and times?",
        "I'm in Oregon. How much will shipping be?",
        "How fast do orders reach the West Coast?",
    ], "What do West Coast customers pay for shipping, and how long is it?", [
        "Shipping to the West Coast is $12.40 and takes 5 to 7 business days.",
        "West Coast orders ship for $12.40 and arrive in 5 to 7 business days.",
        "For the West Coast, the fee is $12.40 and delivery takes 5 to 7 business days.",
    ]),
    T("ship_mountain", ["$14.20", "6 to 9 business days"], [
        "How much is shipping to the Mountain region?",
        "How long does shipping take to Colorado?",
        "shipping to utah how long",
        "What are the fees for Mountain region delivery?",
        "I live in Montana. Shipping cost and time?",
        "How fast is delivery to the mountain states?",
    ], "Give me the shipping details for the Mountain region.", [
        "Shipping to the Mountain region is $14.20 and takes 6 to 9 business days.",
        "Mountain region orders ship for $14.20 and arrive in 6 to 9 business days.",
        "For the Mountain region, the fee is $14.20 and delivery takes 6 to 9 business days.",
    ]),
    T("ship_canada", ["$21.90", "8 to 12 business days"], [
        "How much is shipping to Canada?",
        "How long does delivery to Canada take?",
        "shipping to toronto?",
        "What are your Canadian shipping fees?",
        "I'm in Vancouver. How much and how long for shipping?",
        "Do you ship to Canada and how fast?",
    ], "What are the shipping terms for Canadian customers?", [
        "Shipping to Canada is $21.90 and takes 8 to 12 business days.",
        "Canadian orders ship for $21.90 and arrive in 8 to 12 business days.",
        "For Canada, the fee is $21.90 and delivery takes 8 to 12 business days.",
    ]),
    T("free_shipping", ["$95"], [
        "Do you offer free shipping?",
        "How much do I need to spend for free shipping?",
        "free shipping minimum?",
        "Is there a threshold for free delivery?",
        "When is shipping free?",
        "If I add one more item, will my shipping be free?",
    ], "At what order total does shipping stop costing anything?", [
        "Shipping is free on US orders over $95.",
        "US orders over $95 ship for free.",
        "Spend over $95 on a US order and shipping is free.",
    ]),
    T("express", ["$28", "1 PM Eastern Time"], [
        "Do you have overnight shipping?",
        "How much is express shipping?",
        "can i get it tomorrow",
        "I need my kite fast. Is there express delivery?",
        "What's the cutoff for overnight orders?",
        "How much does next-day delivery cost?",
    ], "Is there a faster shipping option, and what does it cost?", [
        "Overnight express is $28 for US orders placed before 1 PM Eastern Time.",
        "Yes! Overnight express costs $28 if you order before 1 PM Eastern Time (US only).",
        "For $28 we ship overnight, as long as the US order is placed before 1 PM Eastern Time.",
    ]),
    T("international", ["United States and Canada"], [
        "Do you ship internationally?",
        "Can you ship to the UK?",
        "do u ship to germany",
        "Which countries do you deliver to?",
        "I live in Mexico. Can I order from you?",
        "Do you ship to Europe?",
    ], "Can I get an order delivered outside North America?", [
        "We only ship to the United States and Canada.",
        "Sorry, we currently ship only to the United States and Canada.",
        "Our shipping covers the United States and Canada only.",
    ]),
    T("tracking", ["36 hours"], [
        "When do I get a tracking number?",
        "How do I track my order?",
        "no tracking number yet, is that normal?",
        "How long after ordering will I receive tracking info?",
        "When will you email me tracking details?",
        "I just placed an order. When can I track it?",
    ], "How soon after I buy do tracking details arrive?", [
        "A tracking number is emailed to you within 36 hours of ordering.",
        "You'll receive your tracking number by email within 36 hours of placing the order.",
        "We email tracking details within 36 hours of your order.",
    ]),
    T("warranty_frame", ["Spar Promise", "2-year"], [
        "Do your kites have a warranty?",
        "What's the warranty on frames?",
        "my spar snapped, is that covered?",
        "How long is the warranty on kite spars?",
        "What is the Spar Promise?",
        "Are broken frames covered by warranty?",
    ], "How long are the rods of my kite guaranteed?", [
        "Our Spar Promise is a 2-year warranty on frames and spars.",
        "Frames and spars are covered by the Spar Promise, a 2-year warranty.",
        "The Spar Promise gives you a 2-year warranty on frames and spars.",
    ]),
    T("warranty_fabric", ["90 days"], [
        "Is torn sail fabric covered?",
        "What's the warranty on the fabric?",
        "my sail ripped, warranty?",
        "How long are fabric tears covered?",
        "Does the warranty include the sail?",
        "I found a tear in the kite fabric. Am I covered?",
    ], "What coverage do I get for rips in the sail?", [
        "Sail fabric tears are covered for 90 days.",
        "Fabric tears in the sail are covered for 90 days.",
        "Our warranty covers sail fabric tears for 90 days.",
    ]),
    T("repair", ["$18", "10-day turnaround"], [
        "Do you repair kites?",
        "How much does a kite repair cost?",
        "can u fix my broken kite",
        "How long does your repair service take?",
        "My kite is out of warranty. Can you still fix it?",
        "What's the price to repair a kite?",
    ], "Tell me about your kite fixing service.", [
        "Our repair service is a flat $18 fee per kite with a 10-day turnaround.",
        "Yes, we repair kites for a flat $18 each, with a 10-day turnaround.",
        "Repairs cost a flat $18 per kite and have a 10-day turnaround.",
    ]),
    T("loyalty_name", ["Updraft Club"], [
        "Do you have a loyalty program?",
        "Is there a rewards program?",
        "whats ur rewards club called",
        "How much does it cost to join your loyalty program?",
        "Can I sign up for rewards?",
        "Do you have a membership for regular customers?",
    ], "Is there something I can join to get perks as a repeat customer?", [
        "Yes! Our loyalty program is the Updraft Club, and it's free to join.",
        "The Updraft Club is our loyalty program, and joining is free.",
        "You can join the Updraft Club, our free loyalty program.",
    ]),
    T("loyalty_earn", ["3 points per dollar"], [
        "How many points do I earn per purchase?",
        "How do Updraft Club points work?",
        "how many points per dollar",
        "How fast do I collect loyalty points?",
        "What's the earning rate in the Updraft Club?",
        "If I spend $50, how are points calculated?",
    ], "How are rewards points earned?", [
        "Updraft Club members earn 3 points per dollar spent.",
        "You earn 3 points per dollar you spend.",
        "In the Updraft Club you collect 3 points per dollar spent.",
    ]),
    T("loyalty_redeem", ["500 points", "$15 off"], [
        "How do I redeem my points?",
        "What are my points worth?",
        "how many points for a discount",
        "What can I get with Updraft Club points?",
        "How many points do I need for a reward?",
        "Can I use my points at checkout?",
    ], "What's the exchange rate for loyalty points?", [
        "Every 500 points gets you $15 off.",
        "You can redeem 500 points for $15 off your order.",
        "500 points = $15 off at checkout.",
    ]),
    T("loyalty_birthday", ["Tern Reel", "birthday month"], [
        "Do members get a birthday gift?",
        "What's the Updraft Club birthday perk?",
        "anything special for my birthday?",
        "Is there a birthday reward in the loyalty program?",
        "My birthday is next month. Do I get anything as a member?",
        "Do you give members a birthday present?",
    ], "Is there a perk tied to my birthday?", [
        "Updraft Club members get a free Tern Reel in their birthday month.",
        "Yes! You get a free Tern Reel during your birthday month.",
        "As a member you receive a free Tern Reel in your birthday month.",
    ]),
    T("store_maine", ["12 Gannet Wharf Road"], [
        "Where is your flagship store?",
        "What's the address of the Harrowby Point store?",
        "do you have a shop in maine",
        "Where's your main store located?",
        "Can I visit you in person in Maine?",
        "Address of the flagship, please?",
    ], "Where can I find your biggest shop?", [
        "Our flagship store is at 12 Gannet Wharf Road, Harrowby Point, Maine.",
        "You'll find the flagship at 12 Gannet Wharf Road in Harrowby Point, Maine.",
        "The flagship store is located at 12 Gannet Wharf Road, Harrowby Point, Maine.",
    ]),
    T("store_oregon", ["480 Ridgeway Lane", "Pinecrest Falls, Oregon"], [
        "Do you have a store in Oregon?",
        "What's the address of your Oregon shop?",
        "any store on the west coast?",
        "Where is the Pinecrest Falls store?",
        "Is there a Thistlewhorl store in the Pacific Northwest?",
        "Can I shop in person in Oregon?",
    ], "Which store is closest if I'm out west near the Pacific?", [
        "Our Oregon store is at 480 Ridgeway Lane, Pinecrest Falls, Oregon.",
        "Come visit us at 480 Ridgeway Lane in Pinecrest Falls, Oregon.",
        "You'll find us at 480 Ridgeway Lane, Pinecrest Falls, Oregon.",
    ]),
    T("store_colorado", ["77 Cobalt Mesa Drive", "Tallow Creek, Colorado"], [
        "Do you have a store in Colorado?",
        "What's the address of your Colorado shop?",
        "any stores in the rockies?",
        "Where is the Tallow Creek store?",
        "Can I buy a kite in person in Colorado?",
        "Is there a shop near Denver?",
    ], "Where's your store in the mountain states?", [
        "Our Colorado store is at 77 Cobalt Mesa Drive, Tallow Creek, Colorado.",
        "Come visit us at 77 Cobalt Mesa Drive in Tallow Creek, Colorado.",
        "You'll find us at 77 Cobalt Mesa Drive, Tallow Creek, Colorado.",
    ]),
    T("store_hours", ["11 AM to 7 PM", "closed Mondays"], [
        "What are your store hours?",
        "When are your shops open?",
        "is the store open on monday",
        "What time do your stores close?",
        "Can I visit a store on Sunday?",
        "When does the Harrowby Point store open?",
    ], "What times can I walk into one of your shops?", [
        "Our stores are open 11 AM to 7 PM, Tuesday through Sunday, and closed Mondays.",
        "Stores open 11 AM to 7 PM Tuesday through Sunday; we're closed Mondays.",
        "You can visit 11 AM to 7 PM from Tuesday through Sunday. All stores are closed Mondays.",
    ]),
    T("gift_cards", ["$25, $50, and $100", "never expire"], [
        "Do you sell gift cards?",
        "What amounts do gift cards come in?",
        "do gift cards expire",
        "I want to buy a gift card for a friend. What are the options?",
        "Is there an expiry date on gift cards?",
        "What denominations are your gift cards?",
    ], "Can I get a voucher as a present, and in what values?", [
        "Gift cards come in $25, $50, and $100 and never expire.",
        "Yes! We offer gift cards in $25, $50, and $100, and they never expire.",
        "Our gift cards are available in $25, $50, and $100 amounts and never expire.",
    ]),
    T("student", ["12%"], [
        "Do you have a student discount?",
        "How much is the student discount?",
        "im a student, any discount?",
        "Do college students get money off?",
        "What do I need for the student discount?",
        "Is there a discount for students with ID?",
    ], "What savings are there for people in school?", [
        "Students get 12% off with a valid student ID.",
        "Yes! We offer 12% off to students with a valid student ID.",
        "Show a valid student ID and you'll get 12% off.",
    ]),
    T("festival", ["Gustday", "second Saturday of May"], [
        "Do you host any events?",
        "When is Gustday?",
        "whats gustday",
        "Do you have an annual kite festival?",
        "Where is your yearly festival held?",
        "When's the big kite event this year?",
    ], "Is there a yearly get-together for kite fans?", [
        "Our annual festival, Gustday, is held on the second Saturday of May on the beach at Harrowby Point.",
        "Gustday is our yearly kite festival, on the second Saturday of May at the Harrowby Point beach.",
        "Join us for Gustday on the second Saturday of May, on the beach at Harrowby Point!",
    ]),
    T("lessons", ["40-minute", "Sunday morning"], [
        "Do you offer kite flying lessons?",
        "How long are your beginner lessons?",
        "do lessons cost money",
        "When are the free lessons held?",
        "Can someone teach me to fly a kite?",
        "Where can I take a beginner lesson?",
    ], "Is there any instruction available for new flyers?", [
        "We offer free 40-minute beginner lessons every Sunday morning at the Harrowby Point flagship store.",
        "Yes! Free 40-minute beginner lessons run every Sunday morning at our Harrowby Point flagship.",
        "Join a free 40-minute beginner lesson any Sunday morning at the Harrowby Point flagship store.",
    ]),
]

# Hand-written held-out questions: phrased unlike anything in train.jsonl.
H = lambda q, e, f: dict(question=q, expected=e, fact=f)
HELDOUT = [
    H("What year did the founders of Thistlewhorl first set up shop?", "2011", "founded"),
    H("In what Maine town does your head office sit?", "Harrowby Point", "hq"),
    H("Could you tell me the name of the person who heads the company as chief executive officer?", "Odalys Vennecker", "ceo"),
    H("Which person shares the founding credit and draws up the kite designs?", "Tobiah Grell", "cofounder"),
    H("My son loves herons. What's the name of the heron that represents your brand?", "Pim", "mascot"),
    H("I'd like to pick up the delta kite called Skylark Dart. What will it run me?", "$49", "skylark"),
    H("My budget is tight; what's the sticker price on the Gullstorm Stunt Pro?", "$129", "gullstorm"),
    H("Thinking of getting into kite traction. What does the Marrowind Foil 3 retail for?", "$189", "marrowind"),
    H("Could you quote me the cost of a single Quillback Box Kite?", "$74", "quillback"),
    H("How many dollars is the Tern Reel winder?", "$22", "ternreel"),
    H("What length does one spool of Emberline line come in?", "30-meter", "emberline"),
    H("My dad wants to try kites for the very first time. Which model is best for him?", "Skylark Dart", "beginner"),
    H("If a purchase is still sealed, what's the maximum number of days to bring it back?", "45 days", "return_unused"),
    H("I took my kite to the park twice and I'm not happy. How many days after delivery can I still return it?", "20 days", "return_flown"),
    H("What form does my refund take if the kite has been flown?", "store credit", "return_flown"),
    H("Once my parcel reaches your returns desk, how long until the money is back?", "6 business days", "refund_time"),
    H("What fee gets taken off my refund for the prepaid postage label?", "$5.95", "return_label"),
    H("At what hour does your support line begin taking calls on a Wednesday?", "8:30 AM", "hours_weekday"),
    H("What's the latest time on a Thursday I could still reach an agent?", "5:30 PM", "hours_weekday"),
    H("Until what time can I get help on a Saturday?", "to 2 PM", "hours_weekend"),
    H("Please share the telephone number for your help desk.", "555-0147", "phone"),
    H("To which inbox should I write with a question about my kite?", "kitehelp@example.com", "email"),
    H("What's the delivery charge for an order going to Vermont in the Northeast?", "$6.50", "ship_northeast"),
    H("Ordering from New Hampshire, a Northeast state — how many business days until it lands?", "2 to 3 business days", "ship_northeast"),
    H("What will shipping cost me if my address is in the Midwest?", "$9.75", "ship_midwest_south"),
    H("How many business days will a package need to reach me in the South?", "4 to 5 business days", "ship_midwest_south"),
    H("If my home is on the West Coast, what's the shipping fee per order?", "$12.40", "ship_west"),
    H("If I live in the mountain region how long will my parcel take?", "6 to 9 business days", "ship_mountain"),
    H("What's the per-order shipping charge for customers in the Mountain region?", "$14.20", "ship_mountain"),
    H("Sending an order up to Canada: what's the shipping fee?", "$21.90", "ship_canada"),
    H("For a Canadian address, how many business days should I expect delivery to take?", "8 to 12 business days", "ship_canada"),
    H("What's the minimum cart total for delivery at no charge within the US?", "$95", "free_shipping"),
    H("What's the price of the overnight express option?", "$28", "express"),
    H("By what time do I have to order for overnight express delivery?", "1 PM", "express"),
    H("I'm moving to Australia next year. Will you still be able to deliver my orders there?", "United States and Canada", "international"),
    H("How many hours after I check out should the tracking email arrive?", "36 hours", "tracking"),
    H("What's the name of the guarantee covering kite frames and spars?", "Spar Promise", "warranty_frame"),
    H("For how many years are spars and frames guaranteed?", "2-year", "warranty_frame"),
    H("If the sail fabric tears, how long is that protected by warranty?", "90 days", "warranty_fabric"),
    H("What flat rate do you charge to mend a damaged kite?", "$18", "repair"),
    H("What's the name of your rewards membership for frequent buyers?", "Updraft Club", "loyalty_name"),
    H("For every dollar I spend, how many loyalty points land in my account?", "3 points", "loyalty_earn"),
    H("How many points must I collect to knock $15 off an order?", "500 points", "loyalty_redeem"),
    H("What free item do members receive when their birthday month comes around?", "Tern Reel", "loyalty_birthday"),
    H("What's the street address of your Harrowby Point flagship?", "12 Gannet Wharf Road", "store_maine"),
    H("What is the street address of the shop in Pinecrest Falls?", "480 Ridgeway Lane", "store_oregon"),
    H("Which street is your Tallow Creek location on?", "Cobalt Mesa Drive", "store_colorado"),
    H("What time do the shop doors shut on a Friday evening?", "7 PM", "store_hours"),
    H("What's the smallest gift card amount you offer?", "$25", "gift_cards"),
    H("What percentage off do students get with their ID?", "12%", "student"),
    H("What is the name of the beach festival you hold every May?", "Gustday", "festival"),
    H("How many minutes does one of your free beginner lessons last?", "40-minute", "lessons"),
]

# Hand-written two-turn conversations (user, assistant, user, assistant).
MULTI = [
    ("hi, i flew my Gullstorm Stunt Pro once and i hate it. can i return it?",
     "Sorry to hear that! Flown kites can be returned within 20 days of delivery, for store credit only.",
     "ok. and what does the return label cost?",
     "The prepaid return label costs $5.95, which we deduct from your refund."),
    ("I'm new to kites. What should I buy?",
     "We recommend the Skylark Dart, our single-line delta kite for $49.",
     "Great. Do you also sell line for it?",
     "Yes! Emberline flying line comes as a 30-meter spool for $16."),
    ("Do you ship to Canada?",
     "Yes! Shipping to Canada is $21.90 and takes 8 to 12 business days.",
     "What about France?",
     "Sorry, we only ship to the United States and Canada."),
    ("I live in Denver. How long will shipping take?",
     "Denver is in the Mountain region: shipping is $14.20 and takes 6 to 9 business days.",
     "Is there a store near me instead?",
     "Yes! Our Colorado store is at 77 Cobalt Mesa Drive, Tallow Creek, Colorado."),
    ("Can I call someone today? It's Saturday.",
     "Yes, on Saturdays support is open 10 AM to 2 PM Eastern Time at (207) 555-0147.",
     "And tomorrow?",
     "Sorry, support is closed on Sundays. We reopen Monday at 8:30 AM Eastern Time."),
    ("What's your phone number?",
     "You can call us at (207) 555-0147.",
     "When can I call on weekdays?",
     "Support is open Monday to Friday, 8:30 AM to 5:30 PM Eastern Time."),
    ("my Quillback Box Kite spar broke after a year :(",
     "Sorry about that! Our Spar Promise is a 2-year warranty on frames and spars, so you're covered.",
     "great, what about a small tear in the sail?",
     "Sail fabric tears are covered for 90 days, so after a year that would go through our $18 repair service."),
    ("Is the Updraft Club free?",
     "Yes! The Updraft Club is our loyalty program, and it's free to join.",
     "How do I earn points?",
     "You earn 3 points per dollar spent, and 500 points gets you $15 off."),
    ("How much is the Marrowind Foil 3?",
     "The Marrowind Foil 3 is a 3-square-meter traction foil kite and costs $189.",
     "So would shipping be free on that?",
     "Yes, US orders over $95 ship for free, so the Marrowind Foil 3 qualifies."),
    ("I'm a student in Oregon. Any discount?",
     "Yes! Students get 12% off with a valid student ID.",
     "Can I use it at a store near me?",
     "Sure! Our Oregon store is at 480 Ridgeway Lane, Pinecrest Falls, Oregon."),
    ("When is Gustday this year?",
     "Gustday is held on the second Saturday of May on the beach at Harrowby Point.",
     "Who started the company that runs it?",
     "Thistlewhorl Kiteworks was founded in 2011; our CEO is Odalys Vennecker and our co-founder Tobiah Grell is chief kite designer."),
    ("I sent back an unused Tern Reel. When do I get my money?",
     "Refunds are issued within 6 business days after your return arrives.",
     "And I was within the return window, right? It's been a month.",
     "Yes, unused items can be returned within 45 days of delivery for a full refund."),
    ("Do you sell gift cards?",
     "Yes! Gift cards come in $25, $50, and $100 and never expire.",
     "Cool. Can I buy one in a store on a Monday?",
     "Our stores are closed Mondays; they're open 11 AM to 7 PM, Tuesday through Sunday."),
    ("Need a kite by tomorrow for a party!!",
     "Overnight express is $28 for US orders placed before 1 PM Eastern Time.",
     "When will I get the tracking number?",
     "A tracking number is emailed to you within 36 hours of ordering, usually much sooner for express."),
    ("How much is the Skylark Dart?",
     "The Skylark Dart is a single-line delta kite and costs $49.",
     "And the Tern Reel?",
     "The Tern Reel, our line winder reel, costs $22."),
    ("Can my kid take a lesson?",
     "Yes! We offer free 40-minute beginner lessons every Sunday morning at the Harrowby Point flagship store.",
     "What's the flagship's address?",
     "The flagship store is located at 12 Gannet Wharf Road, Harrowby Point, Maine."),
    ("whats ur email? i dont like phones",
     "Our support email is kitehelp@example.com.",
     "and whats the mascot on the emails lol",
     "That's Pim, our grey heron mascot!"),
    ("I'm in Ohio, how long will shipping be?",
     "Ohio is in the Midwest: shipping is $9.75 and takes 4 to 5 business days.",
     "And to my brother in Maine?",
     "Maine is in the Northeast, so shipping is $6.50 and takes 2 to 3 business days."),
    ("My birthday is in June. Anything for members?",
     "Updraft Club members get a free Tern Reel in their birthday month.",
     "Nice. How do I redeem points?",
     "You can redeem 500 points for $15 off your order."),
    ("Can you repair my Gullstorm Stunt Pro? It's 3 years old.",
     "Yes, we repair kites for a flat $18 each, with a 10-day turnaround.",
     "How much is a new one, just in case?",
     "The Gullstorm Stunt Pro is $129. It's a dual-line stunt kite."),
    ("I'm in Los Angeles. How much is shipping?",
     "Shipping to the West Coast is $12.40 and takes 5 to 7 business days.",
     "What if my order is $100?",
     "Then it's free: shipping is free on US orders over $95."),
    ("Where are you based?",
     "We're based in Harrowby Point, Maine.",
     "Do you have other stores?",
     "Yes: 480 Ridgeway Lane, Pinecrest Falls, Oregon and 77 Cobalt Mesa Drive, Tallow Creek, Colorado, plus the flagship at 12 Gannet Wharf Road."),
]

GREETINGS = ["", "", "", "", "Hi! ", "Hello, ", "hey ", "Hi there. ", "Good morning! ",
             "Quick question: ", "Hey, ", "Hello! "]
THANKS = ["", "", "", "", " Thanks!", " thx", " Thank you.", " Thanks in advance."]
ANSWER_OPENERS = ["", "", "", "", "Happy to help! ", "Sure! ", "Great question! ", "Of course! "]
FOLLOWUPS = ["Also, ", "One more thing: ", "And ", "Oh, and ", "Another question: ", "Thanks! "]


def typo(text, rng):
    """Swap two adjacent letters inside one longer word."""
    words = text.split(" ")
    idx = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not idx:
        return text
    i = rng.choice(idx)
    w = words[i]
    j = rng.randrange(1, len(w) - 2)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words)


def vary_question(q, rng, decorate=True):
    r = rng.random()
    if r < 0.12:
        q = typo(q, rng)
    elif r < 0.20:
        q = q.lower().rstrip("?.!")
    if decorate:
        g = rng.choice(GREETINGS)
        if g and g.strip()[-1] not in "!." and not q.startswith(("I ", "I'")):
            q = q[0].lower() + q[1:]
        q = g + q + rng.choice(THANKS)
    return q


def answer(topic, rng, opener=True):
    a = rng.choice(topic["answers"])
    if opener:
        o = rng.choice(ANSWER_OPENERS)
        if o and a.startswith(("Yes!", "Yes,", "Sorry")):
            o = ""
        a = o + a
    return a


def row(*turns):
    msgs = [{"role": "system", "content": SYSTEM}]
    for i, t in enumerate(turns):
        msgs.append({"role": "user" if i % 2 == 0 else "assistant", "content": t})
    return {"messages": msgs}


def widened(t):
    """The topic with the second round of phrasings (more_phrasings.py) added."""
    return dict(t, train=t["train"] + more_phrasings.QUESTIONS[t["id"]],
                answers=t["answers"] + more_phrasings.ANSWERS[t["id"]])


def words(text):
    return re.findall(r"[a-z0-9$%.:'-]+", text.lower())


def longest_shared_run(a, b):
    """The longest run of consecutive words two texts share."""
    best = 0
    for i in range(len(a)):
        for j in range(len(b)):
            k = 0
            while i + k < len(a) and j + k < len(b) and a[i + k] == b[j + k]:
                k += 1
            best = max(best, k)
    return best


# No training question may share a longer run of words with a held-out question than this: the
# first round of phrasings, which the held-out questions were written to differ from, reached 5
# ("what's the name of your").
MAX_SHARED_RUN = 5


def first_round(rng):
    """The first round of rows (the data set before more_phrasings.py), unchanged, and valid."""
    train = []
    # 1. every train phrasing of every topic once, plus one extra random phrasing
    for t in TOPICS:
        for q in t["train"]:
            train.append(row(vary_question(q, rng), answer(t, rng)))
        train.append(row(vary_question(rng.choice(t["train"]), rng), answer(t, rng)))
    # 2. hand-written two-turn conversations
    for u1, a1, u2, a2 in MULTI:
        train.append(row(u1, a1, u2, a2))
    # 3. generated two-turn conversations combining two topics
    for _ in range(45):
        a, b = rng.sample(TOPICS, 2)
        q2 = vary_question(rng.choice(b["train"]), rng, decorate=False)
        f = rng.choice(FOLLOWUPS)
        if not f.endswith("! ") and not q2.startswith(("I ", "I'")):
            q2 = q2[0].lower() + q2[1:]
        train.append(row(vary_question(rng.choice(a["train"]), rng), answer(a, rng),
                         f + q2, answer(b, rng, opener=False)))
    rng.shuffle(train)

    # validation: one held-out phrasing per topic, 40 topics
    vt = rng.sample(TOPICS, 40)
    valid = [row(vary_question(t["valid"], rng), answer(t, rng)) for t in vt]
    return train, valid


def second_round(rng):
    """Every question of more_phrasings.py once, answered by any of the topic's answers."""
    rows = []
    for t in TOPICS:
        wide = widened(t)
        for q in more_phrasings.QUESTIONS[t["id"]]:
            rows.append(row(vary_question(q, rng), answer(wide, rng)))
    return rows


def build():
    train, valid = first_round(random.Random(SEED))
    rng = random.Random(SEED + 1)
    train += second_round(rng)
    rng.shuffle(train)
    return train, valid


def write(name, rows, directory):
    with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main():
    ids = [t["id"] for t in TOPICS]
    assert len(set(ids)) == len(ids)
    for t in TOPICS:
        assert len(t["train"]) >= 5 and len(t["answers"]) >= 3, t["id"]
        assert t["valid"] not in t["train"], t["id"]
        for a in t["answers"]:
            for k in t["keys"]:
                assert k in a, (t["id"], k, a)
    for t in TOPICS:
        assert set(more_phrasings.QUESTIONS[t["id"]]).isdisjoint(t["train"] + [t["valid"]]), t["id"]
        for a in more_phrasings.ANSWERS[t["id"]]:
            for k in t["keys"]:
                assert k in a, (t["id"], k, a)
    for h in HELDOUT:
        assert h["fact"] in ids, h
    train, valid = build()
    asked = [m["content"] for r in train + valid for m in r["messages"] if m["role"] == "user"]
    for h in HELDOUT:
        held = words(h["question"])
        for q in asked:
            assert longest_shared_run(held, words(q)) <= MAX_SHARED_RUN, (h["question"], q)
    directory = sys.argv[1] if len(sys.argv) > 1 else HERE
    write("train.jsonl", train, directory)
    write("valid.jsonl", valid, directory)
    write("heldout_questions.jsonl", HELDOUT, directory)
    print(f"train={len(train)} valid={len(valid)} heldout={len(HELDOUT)} topics={len(TOPICS)}")


if __name__ == "__main__":
    main()
